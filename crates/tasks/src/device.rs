//! The device a command runs on, chosen at run time: `--device`, else `BURN_DEVICE`, else
//! `flex`.

use anyhow::bail;
use burn::prelude::Device;
use burn::tensor::DeviceKind;

/// The device names this build accepts.
pub fn available() -> &'static [&'static str] {
    &[
        "flex",
        "wgpu",
        #[cfg(feature = "cuda")]
        "cuda",
        #[cfg(feature = "ndarray")]
        "ndarray",
    ]
}

/// `flex` (pure-Rust CPU), `wgpu` (Vulkan/Metal/DX12 GPU, or Mesa's software Vulkan), `wgpu:N`
/// (the N-th discrete GPU), and with
/// the matching cargo features `cuda` (GPU 0) and `ndarray`.
pub fn parse(name: &str) -> anyhow::Result<Device> {
    Ok(match name {
        "flex" => Device::flex(),
        "wgpu" => Device::wgpu(DeviceKind::DefaultDevice),
        gpu if gpu.starts_with("wgpu:") => match gpu["wgpu:".len()..].parse::<usize>() {
            Ok(index) => Device::wgpu(DeviceKind::DiscreteGpu(index)),
            Err(_) => bail!("unknown device `{gpu}`: expected wgpu:N, the N-th discrete GPU"),
        },
        #[cfg(feature = "cuda")]
        "cuda" => Device::cuda(0),
        #[cfg(feature = "ndarray")]
        "ndarray" => Device::ndarray(),
        other => bail!(
            "unknown device `{other}`: this build offers {}",
            available().join(", ")
        ),
    })
}

/// The device's name: `--device` if given, else the `BURN_DEVICE` environment variable, else
/// `flex`.
pub fn chosen_name(flag: Option<&str>) -> String {
    flag.map(str::to_string)
        .or_else(|| std::env::var("BURN_DEVICE").ok())
        .unwrap_or_else(|| "flex".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_devices_list_the_choices() {
        assert!(parse("flex").is_ok());
        let err = parse("tpu").unwrap_err().to_string();
        assert!(
            err.starts_with("unknown device `tpu`: this build offers flex, wgpu"),
            "{err}"
        );
    }
}
