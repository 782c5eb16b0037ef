"""float64 for the whole session (the notebook's precision): tests/, examples/ and validation/."""

import jax

jax.config.update("jax_enable_x64", True)
