"""TaskInputs: what a task's run trains, validates and tests on, made from the config by
`pipelines.task_data` (text -> vocabulary -> tokenizer -> tf.data) and handed to the
library's trainer. Values the data decides (the vocabulary file and size, the dataset's
name, batches in one pass) live here, not written back into the user's config: the
trainer folds them in once, into the config the run records (`fit.run_config`)."""

import dataclasses
from typing import Any

import tensorflow as tf


@dataclasses.dataclass(frozen=True)
class TaskInputs:
    """Args:
    tokenizer: the task's tokenizer; translate: the (source, target) pair (one object
        twice when the vocabulary is shared).
    train: training batches, repeated, in a fixed order (a resumed run skips ahead).
    validation: `validation_steps` fixed batches, repeated; None: no validation.
    validation_steps: batches per validation.
    tokens_per_example: real (non-padding) tokens of an example, for tokens/s when the
        batches carry no `padding_mask` to count.
    batches_per_pass: training batches in one pass over the data (`--epochs` counts in
        these; a Keras epoch is at most one pass); 0: not counted.
    derived: config fields the data decided (`vocabulary`, `vocabulary_size`, `dataset`,
        ...), recorded in the run's config.json.
    test: fine-tuning: the test split, one ordered pass; translate: (sources, references).
    test_targets: fine-tuning: the test split's gold labels / scores / tag lists, in order.
    labels: classify / ner: the class (tag) names; None: a score (regress, embed).
    pair: classify / regress: the examples are text pairs.
    sizes: examples per split.
    test_split: the name of the test split in reports.
    line_stats: counts of the training lines skipped or cut (`results.json`).
    """

    tokenizer: Any
    train: tf.data.Dataset
    validation: tf.data.Dataset | None
    validation_steps: int
    tokens_per_example: float
    batches_per_pass: int = 0
    derived: dict = dataclasses.field(default_factory=dict)
    test: Any = None
    test_targets: Any = None
    labels: list[str] | None = None
    pair: bool = False
    sizes: dict = dataclasses.field(default_factory=dict)
    test_split: str = "test"
    line_stats: Any = None
