"""Image captioning: one image in, a sentence out.

`rnnkit.tasks.caption.scores` scores captions against several references each: CIDEr-D
(written here: no offline library computes it without Java) beside sacrebleu's BLEU. The
task registers itself in this package once its data and model join the scores.
"""
