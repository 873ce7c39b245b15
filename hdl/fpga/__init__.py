"""FPGA prototyping of the twin: devices, synthesis and place and route (Yosys, nextpnr), reports, `kgen fpga`."""
