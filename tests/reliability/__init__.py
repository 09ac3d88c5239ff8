"""Reliability and security suite: crashes, model and tool faults, hostile input, secrets."""
