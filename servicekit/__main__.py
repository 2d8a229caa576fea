"""One entry point for every process of every service:

    python -m servicekit api <service> [--part <part>]   (a part: services.<service>.<part>_api)
    python -m servicekit worker <service>
    python -m servicekit migrate <service>|all [--revision "message"]
    python -m servicekit deadletters <service> list|replay [--handler <service>.<method>]
"""
import sys

# nameko needs eventlet's monkey-patching before anything else is imported, and grpcio must never
# be imported under it: a worker process is decided here, first.
if len(sys.argv) > 1 and sys.argv[1] == "worker":
    import eventlet

    eventlet.monkey_patch()
    import psycogreen.eventlet

    psycogreen.eventlet.patch_psycopg()  # a C driver would otherwise block every green thread

import argparse  # noqa: E402
import json  # noqa: E402


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m servicekit")
    sub = parser.add_subparsers(dest="command", required=True)
    api = sub.add_parser("api")
    api.add_argument("service")
    api.add_argument("--part", default="", help="a separately deployed part of the service's api, "
                                                "e.g. order --part import")
    sub.add_parser("worker").add_argument("service")
    migrate = sub.add_parser("migrate")
    migrate.add_argument("service")
    migrate.add_argument("--revision", metavar="MESSAGE")
    dead = sub.add_parser("deadletters")
    dead.add_argument("service")
    dead.add_argument("action", choices=["list", "replay"])
    dead.add_argument("--handler")
    args = parser.parse_args(argv)

    if args.command == "api":
        from servicekit import grpc_server, service
        grpc_server.serve(service.check_name(args.service), part=args.part)
    elif args.command == "worker":
        from servicekit import service, worker
        worker.run(service.check_name(args.service))
    elif args.command == "migrate":
        from servicekit import migrate as m
        from servicekit import service
        if args.service == "all":
            m.upgrade_all()
        elif args.revision:
            m.revision(service.check_name(args.service), args.revision)
        else:
            m.upgrade(service.check_name(args.service))
    elif args.command == "deadletters":
        from servicekit import deadletters, service
        name = service.check_name(args.service)
        if args.action == "list":
            for item in deadletters.list_parked(name):
                print(json.dumps(item, ensure_ascii=False))
        else:
            print(f"replayed {deadletters.replay(name, args.handler)} message(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
