//! What the workspace's tests need from the machine, and one rule for when it is missing: a
//! test that cannot run here prints one `SKIP` line saying what is missing and how to install
//! it, and passes; with `RNNLAB_REQUIRE_ALL=1` (CI sets it) it fails instead. Not part of the
//! models API.

/// The variable that makes every test mandatory (CI sets it to `1`).
pub const REQUIRE_ALL: &str = "RNNLAB_REQUIRE_ALL";

/// Whether the test `test` runs: `Ok` from `found` runs it; else a `SKIP` line naming what is
/// missing and the `install` command, or a panic under [`REQUIRE_ALL`].
pub fn run_or_skip(test: &str, found: Result<(), String>, install: &str) -> bool {
    match found {
        Ok(()) => true,
        Err(missing) if std::env::var(REQUIRE_ALL).is_ok_and(|v| v == "1") => {
            panic!("{test}: {missing} ({REQUIRE_ALL}=1 makes this test mandatory; {install})")
        }
        Err(missing) => {
            // Once per test (a property test asks once per case), straight to stderr: the
            // test harness captures `eprintln!` of passing tests.
            static SAID: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
            let mut said = SAID
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if !said.iter().any(|t| t == test) {
                said.push(test.to_string());
                use std::io::Write;
                let line = format!("SKIP: {test}: {missing}; to run it: {install}\n");
                let _ = std::io::stderr().write_all(line.as_bytes());
            }
            false
        }
    }
}

/// The install command of a Vulkan driver (Mesa's software one, lavapipe, as in CI).
pub const VULKAN_INSTALL: &str = "apt-get install mesa-vulkan-drivers libvulkan1";

/// Whether wgpu finds a GPU adapter (a Vulkan driver; Mesa's lavapipe in CI), asked once.
#[cfg(feature = "wgpu")]
pub fn wgpu_adapter() -> Result<(), String> {
    use std::future::Future;
    use std::sync::OnceLock;
    use std::task::{Context, Poll, Waker};

    static FOUND: OnceLock<Result<(), String>> = OnceLock::new();
    FOUND
        .get_or_init(|| {
            let instance = wgpu::Instance::new(
                wgpu::InstanceDescriptor::new_without_display_handle_from_env(),
            );
            let adapters = instance.enumerate_adapters(wgpu::Backends::all());
            // Native adapters are enumerated at once: the future is ready on its first poll.
            let mut adapters = std::pin::pin!(adapters);
            match adapters
                .as_mut()
                .poll(&mut Context::from_waker(Waker::noop()))
            {
                Poll::Ready(found) if !found.is_empty() => Ok(()),
                Poll::Ready(_) => Err("no GPU adapter (no Vulkan driver)".into()),
                Poll::Pending => Err("the GPU adapters could not be listed".into()),
            }
        })
        .clone()
}

/// Whether the test `test` can use wgpu ([`run_or_skip`] of [`wgpu_adapter`]).
#[cfg(feature = "wgpu")]
pub fn wgpu_or_skip(test: &str) -> bool {
    run_or_skip(test, wgpu_adapter(), VULKAN_INSTALL)
}
