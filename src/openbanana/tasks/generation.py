"""The generator's own tasks: requests answered by a picture, with nothing to decode.

Vision tasks (:data:`openbanana.tasks.base.TASKS`) draw an answer that is decoded back into
numbers; the generation tasks here are the generator's pretraining tasks, kept in the training
mixture and offered by the pipeline: ``t2i`` (a picture from a prompt) and ``edit`` (an input
image changed as the instruction says).
"""

from __future__ import annotations

from dataclasses import dataclass

from openbanana.registry import Registry


@dataclass(frozen=True)
class GenerationTask:
    """One generation task.

    Attributes:
        name: registry key, used by the router, the pipeline's ``task=`` and mixture weights.
        description: one line for people.
        needs_image: whether the request takes an input image (``edit``) or not (``t2i``).
        order: place in lists of generation tasks; lower first.
        instruction_hint: what the user's instruction must do, with an example (usage errors).
    """

    name: str
    description: str
    needs_image: bool
    order: int
    instruction_hint: str = "saying what to do"


#: generation task name -> :class:`GenerationTask`
GENERATION: Registry[GenerationTask] = Registry("generation task")

for _task in (
    GenerationTask("t2i", "text to image: a picture of what the prompt describes", needs_image=False, order=0),
    GenerationTask("edit", "image editing: the input image changed as the instruction says", needs_image=True, order=1,
                   instruction_hint='saying what to change, e.g. "make the sofa blue"'),
):
    GENERATION.register(_task.name, _task)


def generation_task_names() -> tuple[str, ...]:
    """The generation tasks' names in their declared order (``("t2i", "edit")``)."""
    return tuple(name for name, _ in sorted(GENERATION.items(), key=lambda kv: (kv[1].order, kv[0])))


#: the generation tasks' names in their declared order, for membership tests
GENERATION_TASKS: tuple[str, ...] = generation_task_names()
