"""A training picks its precision and memory layout by measuring them on this CPU, and its
thread count follows the load."""

import torch

from training import cpu_plan
from training.cpu_plan import CpuCapability, Layout, ThreadGovernor, candidate_layouts, plan_cpu

AMX = CpuCapability("Test Xeon", "AVX512", amx_bf16=True, avx512_bf16=True, cores=2)
AVX2 = CpuCapability("Test Core", "AVX2", amx_bf16=False, avx512_bf16=False, cores=4)


def test_the_capability_is_read_from_the_cpu_flags(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    core = "model name\t: Some   CPU @ 2GHz\nflags\t\t: fpu avx2 amx_bf16 amx_tile\n"
    cpuinfo.write_text(f"processor\t: 0\n{core}processor\t: 1\n{core}")
    cpu = CpuCapability.detect(cpuinfo)
    assert (cpu.name, cpu.amx_bf16, cpu.avx512_bf16) == ("Some CPU @ 2GHz", True, False)
    assert cpu.native_bf16
    assert cpu.isa == torch.backends.cpu.get_cpu_capability()
    assert "with AMX bf16" in cpu.describe()
    assert not CpuCapability.detect(tmp_path / "missing").native_bf16  # not Linux: fp32 only


def test_bf16_is_tried_only_where_the_cpu_runs_it_natively():
    names = [layout.name for layout in candidate_layouts(AMX, True, True)]
    assert names == ["fp32", "fp32 + channels-last", "bf16", "bf16 + channels-last"]
    assert [layout.name for layout in candidate_layouts(AVX2, True, True)] == ["fp32", "fp32 + channels-last"]
    assert [layout.name for layout in candidate_layouts(AMX, False, False)] == ["fp32"]  # --no-amp etc.


def test_the_fastest_measured_layout_is_chosen_cached_and_explained(tmp_path):
    speeds = {"fp32": 100.0, "fp32 + channels-last": 90.0, "bf16": 150.0, "bf16 + channels-last": 240.0}
    measured = []

    def measure(arch, layout, batch, input_size, channels, ablate):
        measured.append(layout.name)
        return speeds[layout.name]

    cache = tmp_path / "plans.json"
    plan = plan_cpu("mini_xception", 64, 48, 1, 2, cache=cache, cpu=AMX, measure=measure)
    assert plan.layout == Layout("bf16", True) and plan.layout.memory_format == torch.channels_last
    assert plan.layout.as_precision().dtype == torch.bfloat16
    assert "bf16 + channels-last 240" in plan.reason and "Test Xeon" in plan.reason
    assert len(measured) == 4
    again = plan_cpu("mini_xception", 64, 48, 1, 2, cache=cache, cpu=AMX, measure=measure)
    assert again.layout == plan.layout and len(measured) == 4 and "measured earlier" in again.reason
    plan_cpu("mini_xception", 128, 48, 1, 2, cache=cache, cpu=AMX, measure=measure)  # another batch
    assert len(measured) == 8
    without_bf16 = plan_cpu("mini_xception", 64, 48, 1, 2, cache=cache, cpu=AVX2, measure=measure)
    assert without_bf16.layout == Layout("fp32", False) and "would be emulated" in without_bf16.reason


def test_an_unwritable_cache_costs_a_probe_not_the_run(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    plan = plan_cpu("mini_xception", 64, 48, 1, 2, cache=blocker / "plans.json", cpu=AVX2,
                    measure=lambda *args: 1.0)
    assert plan.layout.precision == "fp32"


def test_a_real_probe_times_real_training_steps():
    speed = cpu_plan.images_per_second("mini_xception", Layout("fp32", False), 8, 48, 1, steps=1)
    assert speed > 0


def test_threads_follow_what_other_work_leaves_idle(monkeypatch):
    samples = iter([
        (0.0, 0.0, 0.0),
        (100.0, 200.0, 60.0),  # the machine was busy 200 core-seconds, we used 60: others 1.4 cores
        (200.0, 300.0, 150.0),  # others used 10 core-seconds in 100 s: the cores are ours again
    ])
    monkeypatch.setattr(ThreadGovernor, "_sample", staticmethod(lambda: next(samples)))
    monkeypatch.setattr(cpu_plan.time, "monotonic", lambda: 1e9)  # every update is due
    previous = torch.get_num_threads()
    try:
        governor = ThreadGovernor(ceiling=2, interval=0, cores=2)
        assert governor.threads == 2
        assert governor.update() == 1 and torch.get_num_threads() == 1
        assert governor.update() == 2 and torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(previous)


def test_without_proc_the_threads_stay_at_the_ceiling(monkeypatch):
    monkeypatch.setattr(ThreadGovernor, "_sample", staticmethod(lambda: None))
    previous = torch.get_num_threads()
    try:
        assert ThreadGovernor(ceiling=2, interval=0).update() == 2
    finally:
        torch.set_num_threads(previous)
