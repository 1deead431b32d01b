"""Tests of localcloud."""
