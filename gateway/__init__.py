"""The HTTP edge of the mall: FastAPI on uvicorn, talking to the services over async gRPC."""
