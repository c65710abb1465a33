"""Data diagnosis: out-of-sample probabilities, likely label errors, near-duplicates and outliers.

Everything works on backbone embeddings taken through the training feature cache (a second
diagnosis with the same backbone reads them back): ``embeddings.py`` picks the backbone (a run's or a
registry one) and extracts; ``out_of_sample.py`` cross-validates a linear head on them;
``findings.py`` ranks label issues with cleanlab and finds near-duplicates and outliers among cosine
nearest neighbours; ``diagnose.py`` puts the steps together and writes issues.csv and summary.json;
``jobs.py`` runs a diagnosis and the app's embedding map in its child process.
"""
