"""The browser workbench (``aip serve``): a FastAPI app over the task functions of :mod:`aip.tasks`.

- :mod:`aip.web.jobs`: a queue that runs one heavy job at a time, with progress and cancellation;
- :mod:`aip.web.uploads`: the work folder, and uploads checked for bytes, type and pixels;
- :mod:`aip.web.app`: the HTTP API and the page (``static/``).
"""
