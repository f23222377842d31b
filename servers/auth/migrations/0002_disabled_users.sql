-- An administrator can disable an account (UserAdminService.DisableUser):
-- it cannot log in or refresh, and its tokens are refused (token epoch).
ALTER TABLE auth.users ADD COLUMN disabled_at timestamptz;
CREATE INDEX users_created ON auth.users (created_at DESC, id);
