"""The sanity floor for text classification: TF-IDF (word 1-2 grams) + logistic
regression, in TensorFlow (Keras `TextVectorization` + one softmax layer, L2)."""

import keras
import numpy as np
import tensorflow as tf

from bertgpt_tf.evaluation.metrics import classification_metrics


def tfidf_logistic_regression(
    train_texts: list[str],
    train_ids: np.ndarray,
    test_texts: list[str],
    test_ids: np.ndarray,
    num_classes: int,
    max_tokens: int = 50_000,
    epochs: int = 5,
    l2: float = 1e-5,
    seed: int = 0,
) -> dict[str, float]:
    """Fits on train, returns test accuracy / macro F1."""
    keras.utils.set_random_seed(seed)
    vectorize = keras.layers.TextVectorization(
        max_tokens=max_tokens,
        ngrams=2,
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
    model.fit(train.batch(256).map(lambda x, y: (vectorize(x), y)), epochs=epochs, verbose=0)
    logits = model.predict(features(test_texts), verbose=0)
    return classification_metrics(test_ids, logits)
