"""The main job, ``rlad demo``: a teacher-guided RL run a newcomer can watch on a laptop CPU in minutes."""
