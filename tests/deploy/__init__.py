"""Deployment artefacts: Dockerfile, its build recipe, the Helm chart."""
