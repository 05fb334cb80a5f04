//! Photo checkpoints (issue #17, docs/privacy.md): the sealed-box format of a photo kept on a PC
//! and uploaded on an audit, and the consent text whose hash a `consent_recorded` receipt names.
//!
//! ```text
//! sealed = ephemeral X25519 public key (32 bytes)
//!          || XSalsa20-Poly1305(key = X25519(ephemeral secret, service photo key),
//!                               nonce = BLAKE2b-192(ephemeral public || service photo key),
//!                               plaintext JPEG)
//! ```
//!
//! This is libsodium's `crypto_box_seal`: only the holder of the service's photo secret key can
//! open it, and the PC that sealed it cannot (it forgets the ephemeral secret). The receipt
//! `photo_taken` names `SHA-256(plaintext JPEG)`, so the service checks an opened photo against
//! the learner's chain. Nothing here recognises faces or derives templates.

use blake2::Blake2bVar;
use blake2::digest::{Update, VariableOutput};
use crypto_box::aead::Aead;
use crypto_box::{PublicKey as BoxPublic, SalsaBox, SecretKey};

use crate::ids::ContentHash;

/// Length of a sealed box's overhead: the ephemeral key and the Poly1305 tag.
pub const SEAL_OVERHEAD: usize = 32 + 16;
/// The largest photo the app takes and the service opens (a webcam JPEG is some tens of KiB).
pub const MAX_PHOTO_BYTES: usize = 1024 * 1024;
/// How long a PC keeps a sealed photo, from the moment it was taken (docs/privacy.md).
pub const RETENTION_MS: i64 = 180 * 24 * 3600 * 1000;

/// The consent text shown before the first photo, Chinese then English, exactly as its hash is
/// recorded (`consent_recorded.text_sha256` = SHA-256 of these UTF-8 bytes). Changing a byte
/// makes a new text, which the learner is asked about again.
pub const CONSENT_TEXT: &str = "\
拍照核验（可选）
您所在的培训机构开启了学习拍照核验。若您同意，本软件会在您登录和学习中的随机时刻用摄像头为您拍一张照片。\
人脸照片属于敏感个人信息（《个人信息保护法》第二十八、二十九条），因此需要您单独同意。
用途：仅在管理员或监管人员审核您的学习记录时，核对是否是您本人在学习。不做人脸识别，不提取人脸特征。
保存：照片加密后只保存在这台电脑的数据文件夹中，本电脑无法解密；签名学习记录中只记录照片的哈希值。\
照片保存 180 天后由本软件自动删除。只有在审核时，照片才会上传到服务端，由服务端解密核对，并在服务端保存 180 天。
谁能查看：您所在机构的管理员，以及所在地区的监管人员；每次调取都会记录在审计日志中，并写明理由。
不同意不影响学习：不同意只是不拍照，学习时长照常计算，学习中的随堂提问照常进行。您可以随时在“设置”中撤回同意，撤回后不再拍照，本电脑上已保存的照片随即删除。

Photo checkpoints (optional)
Your training organisation has turned on photo checkpoints. If you agree, this app takes a webcam photo of you when you sign in and at random moments while you study. \
A face photo is sensitive personal information (Personal Information Protection Law, Articles 28 and 29), so it needs your separate consent.
Purpose: only to check that it was you studying, when an administrator or supervisor audits your study record. No face recognition, no face templates.
Kept: each photo is encrypted and kept only in this PC's data folder, and this PC cannot decrypt it; the signed study record holds only the photo's hash. \
The app deletes photos 180 days after they were taken. Photos are uploaded only for an audit, decrypted and checked by the service, and kept there for 180 days.
Who can see them: your organisation's administrators and the supervisors of its region; every request is written in the audit log with its reason.
Declining costs you nothing: without consent no photo is taken, your study counts as before, and the questions during study still apply. \
You can withdraw consent at any time in Settings; no photo is taken after that, and the photos kept on this PC are deleted.
";

/// SHA-256 of [`CONSENT_TEXT`].
pub fn consent_text_sha256() -> ContentHash {
    ContentHash::of(CONSENT_TEXT.as_bytes())
}

/// Why a sealed photo could not be opened or checked. Codes are stable (`photo.*`).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PhotoError {
    #[error("the sealed photo is too short or too large")]
    BadSize,
    #[error(
        "the sealed photo does not open with the service's photo key (damaged or sealed to another key)"
    )]
    Undecryptable,
    #[error("the photo key is not 32 bytes of hex")]
    BadKey,
}

impl PhotoError {
    pub fn code(&self) -> &'static str {
        match self {
            PhotoError::BadSize => "photo.bad_size",
            PhotoError::Undecryptable => "photo.undecryptable",
            PhotoError::BadKey => "photo.bad_key",
        }
    }
}

fn nonce(ephemeral: &[u8; 32], recipient: &[u8; 32]) -> [u8; 24] {
    let mut h = Blake2bVar::new(24).expect("24 is a valid BLAKE2b output length");
    h.update(ephemeral);
    h.update(recipient);
    let mut out = [0u8; 24];
    h.finalize_variable(&mut out)
        .expect("the buffer is the output length");
    out
}

/// The X25519 public key of a secret key (32 bytes each).
pub fn photo_public_key(secret: &[u8; 32]) -> [u8; 32] {
    *SecretKey::from(*secret).public_key().as_bytes()
}

/// Seals `jpeg` to the service's photo key `recipient`, with `ephemeral_secret` fresh random
/// bytes (the caller's injected randomness) that are forgotten afterwards.
pub fn seal(recipient: &[u8; 32], ephemeral_secret: [u8; 32], jpeg: &[u8]) -> Vec<u8> {
    let esk = SecretKey::from(ephemeral_secret);
    let epk = *esk.public_key().as_bytes();
    let b = SalsaBox::new(&BoxPublic::from(*recipient), &esk);
    let ct = b
        .encrypt(&nonce(&epk, recipient).into(), jpeg)
        .expect("XSalsa20-Poly1305 encrypts any length that fits in memory");
    let mut out = Vec::with_capacity(32 + ct.len());
    out.extend_from_slice(&epk);
    out.extend_from_slice(&ct);
    out
}

/// Opens a sealed photo with the service's photo secret key.
pub fn open(secret: &[u8; 32], sealed: &[u8]) -> Result<Vec<u8>, PhotoError> {
    if sealed.len() < SEAL_OVERHEAD || sealed.len() > MAX_PHOTO_BYTES + SEAL_OVERHEAD {
        return Err(PhotoError::BadSize);
    }
    let sk = SecretKey::from(*secret);
    let recipient = *sk.public_key().as_bytes();
    let epk: [u8; 32] = sealed[..32].try_into().expect("checked length");
    let b = SalsaBox::new(&BoxPublic::from(epk), &sk);
    b.decrypt(&nonce(&epk, &recipient).into(), &sealed[32..])
        .map_err(|_| PhotoError::Undecryptable)
}

/// Parses a photo key written as 64 hex digits.
pub fn parse_key(hex_key: &str) -> Result<[u8; 32], PhotoError> {
    let mut k = [0u8; 32];
    hex::decode_to_slice(hex_key.trim(), &mut k).map_err(|_| PhotoError::BadKey)?;
    Ok(k)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_photo_opens_only_with_the_service_key() {
        let service = [7u8; 32];
        let public = photo_public_key(&service);
        let jpeg = b"\xff\xd8\xff\xe0 not really a jpeg \xff\xd9";
        let sealed = seal(&public, [9u8; 32], jpeg);
        assert_eq!(sealed.len(), jpeg.len() + SEAL_OVERHEAD);
        assert!(!sealed.windows(jpeg.len()).any(|w| w == jpeg));
        assert_eq!(open(&service, &sealed).unwrap(), jpeg);
        assert_eq!(open(&[8u8; 32], &sealed), Err(PhotoError::Undecryptable));
        let mut bent = sealed.clone();
        *bent.last_mut().unwrap() ^= 1;
        assert_eq!(open(&service, &bent), Err(PhotoError::Undecryptable));
        assert_eq!(open(&service, &sealed[..40]), Err(PhotoError::BadSize));
    }

    #[test]
    fn the_format_is_libsodiums_sealed_box() {
        // crypto_box's own unseal (the libsodium construction) opens what `seal` made.
        let service = [3u8; 32];
        let sealed = seal(&photo_public_key(&service), [5u8; 32], b"hello");
        assert_eq!(SecretKey::from(service).unseal(&sealed).unwrap(), b"hello");
    }
}
