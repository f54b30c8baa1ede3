"""Evolution: data, training-free fitness, variation, selection and the search loop."""
