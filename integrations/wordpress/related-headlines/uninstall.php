<?php
/**
 * Removes what the plugin stored in the site: its settings (the API key with them), the backfill's
 * state, cached answers and scheduled retries. The articles stay in the service (delete them there).
 *
 * @package RelatedHeadlines
 */

defined( 'WP_UNINSTALL_PLUGIN' ) || exit;

/**
 * Removes the plugin's data from the current site.
 */
function related_headlines_uninstall_site() {
	global $wpdb;
	delete_option( 'related_headlines_settings' );
	delete_option( 'related_headlines_backfill' );
	wp_unschedule_hook( 'related_headlines_retry' );
	wp_unschedule_hook( 'related_headlines_backfill' );
	// Cached answers are transients named by a hash: remove them by prefix.
	// phpcs:ignore WordPress.DB.DirectDatabaseQuery
	$wpdb->query(
		$wpdb->prepare(
			"DELETE FROM {$wpdb->options} WHERE option_name LIKE %s OR option_name LIKE %s",
			$wpdb->esc_like( '_transient_related_headlines_' ) . '%',
			$wpdb->esc_like( '_transient_timeout_related_headlines_' ) . '%'
		)
	);
}

if ( is_multisite() ) {
	foreach ( get_sites( array( 'fields' => 'ids' ) ) as $related_headlines_site ) {
		switch_to_blog( $related_headlines_site );
		related_headlines_uninstall_site();
		restore_current_blog();
	}
} else {
	related_headlines_uninstall_site();
}
