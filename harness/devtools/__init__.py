"""Developer tools, apart from the runtime: nothing a benchmark run imports lives here.

`benchfigures.py` and `benchtable.py` keep the harness's own benchmark figures and the README
table made from them; `synth_model.py` (with `synth_cli.py`, `harness synth-model`) writes a
random-weight GGUF of any shape for measuring what a machine can hold.
"""
