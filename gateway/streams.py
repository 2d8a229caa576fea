"""A file a service streams back (FileChunk-like messages: data, and content_type and filename on
the first) as an HTTP download."""
from __future__ import annotations

from fastapi.responses import StreamingResponse


async def file_response(stream) -> StreamingResponse:
    # The first chunk arrives before the response starts, so a refusal is still a problem body.
    first = await stream.read()

    async def body():
        yield first.data
        async for chunk in stream:
            yield chunk.data

    return StreamingResponse(body(), media_type=first.content_type, headers={
        "Content-Disposition": f'attachment; filename="{first.filename}"'})
