// Placeholder: filled by the cluster.toml work.
