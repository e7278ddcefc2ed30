"""litft demo: the whole pipeline on the bundled sample site (site/), served on 127.0.0.1, with the loss-curve plot."""
