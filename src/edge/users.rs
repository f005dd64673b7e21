//! The user database: the login name of a uid, through `getpwuid_r`, so that every
//! source the system's name service knows (files, LDAP, SSSD) counts.
//!
//! Names go into audit records (`operator:<user>@tty`). The environment's `USER` and
//! `LOGNAME` are often missing where countersign runs: MCP clients start servers with a
//! short list of variables, and some with none at all.
#![allow(unsafe_code)]

use std::ffi::CStr;

/// The login name of `uid` in the password database, when it has one.
pub fn login_name(uid: u32) -> Option<String> {
    let mut size = 1024;
    loop {
        let mut buf = vec![0 as libc::c_char; size];
        // SAFETY: `passwd` is plain data (integers and pointers), for which all zeros is a
        // valid value; `getpwuid_r` fills it in.
        let mut entry: libc::passwd = unsafe { std::mem::zeroed() };
        let mut found: *mut libc::passwd = std::ptr::null_mut();
        // SAFETY: every pointer is to a live local of the type `getpwuid_r` expects, and
        // `buf.len()` is the length of `buf`, the only memory it may write strings into.
        let rc = unsafe { libc::getpwuid_r(uid, &mut entry, buf.as_mut_ptr(), buf.len(), &mut found) };
        if rc == libc::ERANGE && size < 1 << 20 {
            size *= 4;
            continue;
        }
        if rc != 0 || found.is_null() || entry.pw_name.is_null() {
            return None;
        }
        // SAFETY: on success `pw_name` points to a NUL-terminated string inside `buf`,
        // which lives until the end of this block.
        let name = unsafe { CStr::from_ptr(entry.pw_name) };
        return name.to_str().ok().filter(|n| !n.is_empty()).map(str::to_owned);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_name_is_the_one_id_gives() {
        let uid = rustix::process::getuid().as_raw();
        let out = std::process::Command::new("id").arg("-un").output().expect("run id");
        let expected = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        assert_eq!(login_name(uid), Some(expected).filter(|n| out.status.success() && !n.is_empty()));
        assert_eq!(login_name(4_000_000_123), None, "a uid nobody has");
    }
}
