"""bertgpt_tf: pretrain, fine-tune and serve BERT- and GPT-style models in Keras 3 / TF."""

__version__ = "0.1.0"
