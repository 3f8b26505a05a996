//! The write transaction's retry policy: contention is run again, a unique violation is not.

use seatkeeper_app::AppError;
use std::time::{Duration, Instant};

backends!(
    a_unique_violation_is_a_prompt_conflict_naming_what_exists,
    |srv| async move {
        let id = srv.user("taken@contoso.test", Some("US")).await;
        let existing = {
            let mut conn = srv.app.read().await.expect("conn");
            seatkeeper_store::directory::get_user(&mut conn, srv.tenant, id)
                .await
                .expect("read")
                .expect("user")
        };
        // Another user with the same sign-in name, written without the use case's own check:
        // the database refuses it.
        let mut copy = existing.clone();
        copy.id = seatkeeper_domain::UserId::new();
        let copy = &copy;
        let started = Instant::now();
        let result = srv
            .app
            .transact(move |tx| {
                Box::pin(async move {
                    seatkeeper_store::directory::insert_user(tx, copy).await?;
                    Ok(())
                })
            })
            .await;
        let took = started.elapsed();
        match result {
            Err(AppError::Conflict { code, message }) => {
                assert_eq!(code, "userExists");
                assert!(
                    message.contains("userPrincipalName already exists"),
                    "{message}"
                );
                if srv.backend == crate::common::Backend::Postgres {
                    assert!(message.contains("taken@contoso.test"), "{message}");
                }
            }
            other => panic!("expected a conflict, got {other:?}"),
        }
        assert!(
            took < Duration::from_millis(200),
            "answered after {took:?}: a unique violation must not be retried"
        );
        // Nothing was written.
        let mut conn = srv.app.read().await.expect("conn");
        assert!(
            seatkeeper_store::directory::get_user(&mut conn, srv.tenant, copy.id)
                .await
                .expect("read")
                .is_none()
        );
    }
);

backends!(
    transact_commits_and_refuses_a_duplicate_at_once,
    |srv| async move {
        let id = srv.user("kept@contoso.test", Some("US")).await;
        let existing = {
            let mut conn = srv.app.read().await.expect("conn");
            seatkeeper_store::directory::get_user(&mut conn, srv.tenant, id)
                .await
                .expect("read")
                .expect("user")
        };
        let mut other = existing.clone();
        other.id = seatkeeper_domain::UserId::new();
        other.upn = "other@contoso.test".into();
        let user = other.clone();
        srv.app
            .transact(move |tx| {
                let user = user.clone();
                Box::pin(async move {
                    seatkeeper_store::directory::insert_user(tx, &user).await?;
                    Ok(())
                })
            })
            .await
            .expect("a new user is written");
        let mut dup = other.clone();
        dup.id = seatkeeper_domain::UserId::new();
        let started = Instant::now();
        let result = srv
            .app
            .transact(move |tx| {
                let dup = dup.clone();
                Box::pin(async move {
                    seatkeeper_store::directory::insert_user(tx, &dup).await?;
                    Ok(())
                })
            })
            .await;
        assert!(
            matches!(&result, Err(AppError::Conflict { code, .. }) if *code == "userExists"),
            "{result:?}"
        );
        assert!(started.elapsed() < Duration::from_millis(200));
    }
);
