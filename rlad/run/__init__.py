"""From a recipe to a trained model: recipes, model loading, the training runner, callbacks, run folders, SFT distillation."""
