"""An Ollama-compatible server with a physical model of memory and speed (SIMULATED).

`SimServer` (server.py) serves the API; `truth` (truth.py) answers what the simulated machine
can do, so tests can compare a measurement with the number the simulator was built to give.
"""
