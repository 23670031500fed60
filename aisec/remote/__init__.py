"""Remote sources (S3, GCS, Hugging Face Hub, HTTPS) read through fsspec with ranged, counted reads."""
