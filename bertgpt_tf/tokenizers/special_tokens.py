"""Special tokens: the one place their strings (and fixed ids) are defined.

BERT (WordPiece): vocabularies trained here start with these, in this order, so their
ids are fixed; imported vocabularies are looked up by string.

GPT (SentencePiece, char): other strings. SentencePiece models put them first (ids 0, 1,
2, as `sentencepiece_vocab.train_sentencepiece` trains them); character vocabularies put
them after the characters (so character ids equal nanoGPT's `stoi`).
"""

PAD = "[PAD]"
UNK = "[UNK]"
CLS = "[CLS]"
SEP = "[SEP]"
MASK = "[MASK]"

SPECIAL_TOKENS = (PAD, UNK, CLS, SEP, MASK)
PAD_ID, UNK_ID, CLS_ID, SEP_ID, MASK_ID = range(len(SPECIAL_TOKENS))

# === GPT-style tokenizers ===
PAD_PIECE = "<pad>"
UNK_PIECE = "<unk>"
# Ends every document in a GPT training stream; GPT-2's spelling.
END_OF_TEXT = "<|endoftext|>"
# SentencePiece's own spelling of the end token, accepted in models trained elsewhere.
SENTENCEPIECE_EOS = "</s>"

GPT_SPECIAL_TOKENS = (PAD_PIECE, UNK_PIECE, END_OF_TEXT)
# What a detokenized unknown id becomes: U+FFFD, the Unicode replacement character.
UNK_SURFACE = "\ufffd"
