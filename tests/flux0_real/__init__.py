"""The real flux0 server (PyPI ``flux0-server``) in the test suite.

``venv`` finds a Python >= 3.13 and builds the server venv once (cached outside the
repo); ``process`` starts ``serve.py`` with it on 127.0.0.1 and stops it by pid;
``server_agents`` is the flux0 module the server loads (the fake server's scripted
agents, played through the real server); ``plugin`` holds the pytest fixtures.
``serve.py`` and ``server_agents.py`` run inside the server venv, never in the tests'.
"""
