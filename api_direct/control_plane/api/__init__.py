"""The control plane's HTTP API: a FastAPI app that runs in Lambda and under tests alike."""
