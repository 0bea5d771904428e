"""The product's actors: the long-lived GenServers that SoundForge's supervision tree runs (the
database Repo, the PubSub's PostgreSQL bridge between nodes, queue producers, lifeline, ports,
MIDI and OSC devices, the model registry), built from ``soundforge.runtime`` parts; each
module opens with what it mirrors from OTP, Phoenix or Oban and where it differs.
"""
