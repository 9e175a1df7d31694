"""Test doubles that ship with Sapwood, so users can test their code against them too."""
