"""``python -m api_direct.local.emulator``: the patched moto server, as :func:`running_moto_server` starts it."""

from api_direct.local.emulator.server import main

if __name__ == "__main__":
    main()
