"""Special tokens of the GPT-style (causal LM) tokenizers: SentencePiece and character.

Kept apart from `special_tokens.py` (the BERT WordPiece tokens) because these tokenizers
use other strings and ids: SentencePiece models put them first (ids 0, 1, 2, as
`sentencepiece_vocab.train_sentencepiece` trains them), character vocabularies put them
after the characters (so character ids equal nanoGPT's `stoi`).
"""

PAD_PIECE = "<pad>"
UNK_PIECE = "<unk>"
# Ends every document in a GPT training stream; GPT-2's spelling.
END_OF_TEXT = "<|endoftext|>"
# SentencePiece's own spelling of the end token, accepted in models trained elsewhere.
SENTENCEPIECE_EOS = "</s>"

GPT_SPECIAL_TOKENS = (PAD_PIECE, UNK_PIECE, END_OF_TEXT)
# What a detokenized unknown id becomes: U+FFFD, the Unicode replacement character.
UNK_SURFACE = "\ufffd"
