"""rnnkit: recurrent neural networks you can understand, build, train and use."""

__version__ = "0.1.0"
