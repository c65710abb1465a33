"""Files ``export_bundle`` copies next to the model: a stand-alone ``predict.py`` and a README template.

``predict.py`` here is a template, never imported by imgcls: it must run where imgcls and torch
are not installed.
"""
