"""The network: topology from the config, its description, the lazy Keras import."""
