"""The sanity floor for text classification: TF-IDF + logistic regression, in TensorFlow
(Keras `TextVectorization` + one softmax layer, L2). Word 1-2 grams for spaced text;
character 1-3 grams for text written without spaces between words (Chinese, Japanese,
Thai), where a "word" would be a whole sentence seen once."""

import keras
import numpy as np
import tensorflow as tf

from bertgpt_tf.evaluation.metrics import classification_metrics

# analyzer -> (TextVectorization split, n-gram order, what the report row says)
ANALYZERS = {
    "word": ("whitespace", 2, "word 1-2 grams"),
    "char": ("character", 3, "character 1-3 grams"),
}


def tfidf_analyzer(texts: list[str], max_space_share: float = 0.08) -> str:
    """The floor's n-grams for `texts`: "char" when they are mostly unsegmented script
    (fewer spaces than `max_space_share` of their characters: 0.18 in SST-2, ~0.12 in
    Finnish, 0.0 in ChnSentiCorp), else "word".

    >>> tfidf_analyzer(["房间很大，床有2M宽", "早餐太差"]), tfidf_analyzer(["a big room"])
    ('char', 'word')
    """
    characters = sum(len(text) for text in texts)
    spaces = sum(text.count(" ") for text in texts)
    return "char" if spaces < max_space_share * characters else "word"


def tfidf_logistic_regression(
    train_texts: list[str],
    train_ids: np.ndarray,
    test_texts: list[str],
    test_ids: np.ndarray,
    num_classes: int,
    analyzer: str = "auto",
    max_tokens: int = 50_000,
    epochs: int = 5,
    min_steps: int = 500,
    l2: float = 1e-5,
    seed: int = 0,
) -> dict[str, float]:
    """Fits on train, returns test accuracy / macro F1. `analyzer`: "word" (1-2 grams),
    "char" (1-3 grams) or "auto" (`tfidf_analyzer` of the training texts). Trains
    `epochs` passes, or more for small sets: at least `min_steps` batches of 256 (5
    epochs of 300 texts are 10 Adam steps, far from the optimum: 0.209 accuracy on a
    5-topic BBC split)."""
    if analyzer == "auto":
        analyzer = tfidf_analyzer(train_texts)
    split, ngrams, _ = ANALYZERS[analyzer]
    keras.utils.set_random_seed(seed)
    vectorize = keras.layers.TextVectorization(
        max_tokens=max_tokens,
        split=split,
        ngrams=ngrams,
        output_mode="tf_idf",
        standardize="lower_and_strip_punctuation",
    )
    vectorize.adapt(tf.data.Dataset.from_tensor_slices(train_texts).batch(1024))
    features = lambda texts: vectorize(tf.constant(texts))  # noqa: E731
    model = keras.Sequential(
        [keras.layers.Dense(num_classes, kernel_regularizer=keras.regularizers.L2(l2))]
    )
    model.compile(
        keras.optimizers.Adam(1e-3),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    train = tf.data.Dataset.from_tensor_slices((train_texts, train_ids)).shuffle(
        len(train_texts), seed=seed
    )
    steps_per_epoch = -(-len(train_texts) // 256)
    epochs = max(epochs, -(-min_steps // steps_per_epoch))
    batches = train.batch(256).map(lambda x, y: (vectorize(x), y))
    model.fit(batches, epochs=epochs, verbose=0, shuffle=False)  # shuffled above
    logits = model.predict(features(test_texts), verbose=0)
    return classification_metrics(test_ids, logits)
