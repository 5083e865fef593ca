"""Real pretrained models with no model hub: GGUF files shipped inside ordinary Python packages.

- :mod:`rlad.real.gguf`: short names (``smollm2-135m``) and ``.gguf`` paths -> a cached safetensors folder;
- :mod:`rlad.real.teacher`: the task teacher that shares the student's pretraining (a LoRA adapter over
  the same base, fine-tuned on programmatic worked solutions), built once and cached;
- :mod:`rlad.real.mechanism`: what TRRD will do for a (student, teacher, task) triple, before training.

Everything here needs the optional extra: ``pip install 'rlad[real]'``.
"""
