"""The text modality: a sample rendered as the instruction prompt of SPEC 3.7 (ReLLa's wording).

Pure ID fields (user id, item id, zip code) never appear in the text. The behaviours shown are
whichever the caller selects (the K most recent, or K retrieved then re-sorted into time
order), always given as indices into the protocol's per-user sequences, so the text and ID
views of a sample are built from the same rows.

Example:
    >>> from recbench.datasets import load_dataset
    >>> from recbench.protocol import prepare
    >>> from recbench.batches import recent_positions
    >>> data = prepare(load_dataset("synth"))
    >>> row = data.split_rows("test")[:1]
    >>> index, mask = recent_positions(data, row, 10)
    >>> print(render_prompt(data, int(row[0]), index[0][mask[0]]).splitlines()[0])  # doctest: +ELLIPSIS
    The user is a ...
"""

from __future__ import annotations

import numpy as np

from recbench.protocol import ProtocolData

ANSWERS = ("Yes.", "No.")  # positive answer first

_PRONOUNS = {
    "female": ("She", "Her", "she"),
    "male": ("He", "His", "he"),
}


def format_rating(value: float) -> str:
    stars = f"{value:g}"
    return f"{stars} star" if value == 1 else f"{stars} stars"


def render_prompt(data: ProtocolData, row: int, history: np.ndarray) -> str:
    """The prompt for protocol row ``row`` showing the behaviours at ``history`` (seq indices).

    The caller wraps the result in the backbone's chat template; the expected answer is
    ``ANSWERS[0]`` for a positive label and ``ANSWERS[1]`` otherwise.
    """
    user = int(data.sample_user[row])
    target = int(data.target_items(np.array([row]))[0])
    noun = data.item_noun
    verb = "read" if noun == "book" else "watched"
    gender = data.user_text.get("gender", [None] * (user + 1))[user]
    subject, possessive, pronoun = _PRONOUNS.get(gender or "", ("The user", "Their", "the user"))
    lines = []
    profile = []
    if gender in _PRONOUNS:
        profile.append(f"The user is a {gender}.")
    if "occupation" in data.user_text:
        profile.append(f"{possessive} job is {data.user_text['occupation'][user]}.")
    if "age" in data.user_text:
        profile.append(f"{possessive} age is {data.user_text['age'][user]}.")
    if profile:
        lines.append(" ".join(profile))
    behaviours = [
        f"{i}. {data.item_title[int(data.seq_item[j])]} ({format_rating(data.rating_values[int(data.seq_rating[j])])})"
        for i, j in enumerate(np.asarray(history, dtype=np.int64))
    ]
    lines.append(f"{subject} {verb} the following {noun}s in order in the past, and rated them:")
    lines.append(repr(behaviours))
    lines.append(
        f"Based on the {noun}s {pronoun} has {verb}, deduce if {pronoun} will like the {noun} "
        f"***{data.item_title[target]}***."
    )
    lines.append(f"Note that more stars the user rated the {noun}, the user liked the {noun} more.")
    lines.append("You should ONLY tell me yes or no.")
    return "\n".join(lines)
