"""`ido serve`: the HTTP API of DESIGN.md section 6 (FastAPI, imported only by `ido serve` and tests).

`create_app(Service(...))` in `ido.service.app` builds the app; `ido.cli.serve`
runs it on uvicorn. Needs the `serve` extra (`pip install 'ido[serve]'`).
"""
