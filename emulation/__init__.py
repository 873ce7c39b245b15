"""kgen.emulation: fixed-point formats, lowering, the bit-exact Euler model, traces."""
