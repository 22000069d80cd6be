"""The trainable model of a pretraining task, from the run config."""

import keras

from bertgpt_tf.config import Config
from bertgpt_tf.models.bert_encoder import BertEncoder
from bertgpt_tf.models.gpt_decoder import GPTDecoder
from bertgpt_tf.tasks.bert_pretrainer import BertPretrainer
from bertgpt_tf.tasks.gpt_causal_lm import GPTCausalLM


def build_model(config: Config) -> keras.Model:
    """`mlm` -> BertPretrainer(BertEncoder), `clm` -> GPTCausalLM(GPTDecoder)."""
    task = config.train.task
    if task == "mlm":
        encoder = BertEncoder(**config.model_kwargs(BertEncoder))
        return BertPretrainer(encoder, config.data.pair_objective, config.model.tie_word_embeddings)
    if task == "clm":
        return GPTCausalLM(GPTDecoder(**config.model_kwargs(GPTDecoder)))
    raise ValueError(f"No pretraining model for task {task!r} (mlm | clm)")
