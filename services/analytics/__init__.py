"""Analytics: records a fact from every event it hears and answers counts over them."""
