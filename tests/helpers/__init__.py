"""Code the tests share that is not itself a test: tiny training set-ups, the train.py runner, the CUDA
emulation build and the ptxas report parser."""
