visible(doc) if document(doc) and not hidden_by(doc, someone);
