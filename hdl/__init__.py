"""kgen.hdl: the Amaranth Euler twin, Verilog export, cocotb benches, FPGA flows."""
