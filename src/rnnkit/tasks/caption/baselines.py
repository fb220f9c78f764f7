"""What a sceptic would try before a captioner: the language prior alone, and the caption of
the nearest training image.

- `blind_caption`: an LSTM language model trained on the training captions, which never
  sees an image; beam search from the start gives the one caption it writes for every
  image, the most probable caption under the prior.
- `nearest_captions`: each image's nearest training image by pixels (both shrunk by 4x4
  average pooling, Euclidean distance), whose first reference becomes its caption.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from rnnkit.data.batching import pad_sequences
from rnnkit.data.tokenizers import Tokenizer
from rnnkit.models import LanguageModel
from rnnkit.models.checks import IGNORE_INDEX
from rnnkit.models.decoding import beam_search
from rnnkit.tasks.caption.task import words_of

BLIND_STEPS, BLIND_BATCH = 300, 64


def blind_caption(references: list[list[str]], vocab: Tokenizer, max_words: int,
                  beam: int = 3, seed: int = 0) -> str:  # fmt: skip
    """The caption an image-blind decoder writes (the same for every image)."""
    generator = torch.Generator().manual_seed(seed)
    texts = [ref for refs in references for ref in refs]
    sequences = [torch.tensor([vocab.eos_id, *vocab.encode(t), vocab.eos_id]) for t in texts]
    with torch.random.fork_rng(devices=[]):  # seeded weights, the caller's generator untouched
        torch.manual_seed(seed)
        model = LanguageModel(vocab.vocab_size, embedding_dim=64, hidden_size=128)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    model.train()
    for _ in range(BLIND_STEPS):
        rows = torch.randint(len(sequences), (BLIND_BATCH,), generator=generator).tolist()
        batch, _ = pad_sequences([sequences[i] for i in rows], padding_value=IGNORE_INDEX)
        inputs = batch[:, :-1].clamp(min=0)
        _, loss = model(inputs, batch[:, 1:])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    tokens, state = model.start(torch.tensor([[vocab.eos_id]]))
    found = beam_search(model, tokens, state, max_length=max_words + 1, eos=vocab.eos_id,
                        beam_size=beam, banned=[vocab.unk_id])  # fmt: skip
    return words_of(vocab, found.tokens[0, 0].tolist())


def _pooled(images: torch.Tensor) -> torch.Tensor:
    return F.avg_pool2d(images.float() / 255, 4).flatten(1)


def nearest_captions(train_images: torch.Tensor, train_references: list[list[str]],
                     images: torch.Tensor, chunk: int = 512) -> list[str]:  # fmt: skip
    """The first reference of each image's nearest training image (see the module)."""
    library = _pooled(train_images)
    found = []
    for at in range(0, len(images), chunk):
        distances = torch.cdist(_pooled(images[at : at + chunk]), library)
        found += distances.argmin(dim=1).tolist()
    return [train_references[i][0] for i in found]
