"""Data: the synthetic world (``openbanana.data.synthetic``), real data sets (``sources``) and
WebDataset shards (``shards``)."""
