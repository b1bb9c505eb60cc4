"""Deployment on a cluster: the one description of topics and broker access that the Kubernetes
manifests (deploy/k8s), the compose file (deploy/compose.yaml) and the local stack share.

``access`` says which topics exist and what each service and partner may do on the broker; ``render``
turns that into Strimzi ``KafkaTopic``/``KafkaUser`` resources and the compose file's topic script.
Decisions: docs/adr/0020-cluster-deployment.md.
"""
