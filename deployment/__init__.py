"""A trained run's model in use, outside training: ``trained_model`` rebuilds it from a run, ``classify`` (behind
experiments/classify.py) labels audio files with it, ``export`` (behind experiments/export.py) packages it with
AOTInductor (``aoti_package``) for C++ or Python programs that have only torch and dyconv."""
